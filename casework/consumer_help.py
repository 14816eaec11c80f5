"""Where a consumer can turn when the company will not settle: a small, sourced table by country.

Every address below was checked against a stored copy of the page it names (or, where noted, a stored
page that gives the address); an organisation whose address could not be checked is named without one,
or left out. Nothing here claims the organisation will act on a particular case.
"""

from __future__ import annotations

from dataclasses import dataclass

from casework.countries import EU_MEMBER_STATES


@dataclass(frozen=True)
class HelpLine:
    name: str
    what: str
    url: str | None = None


# ECC-Net covers the EU member states, Norway and Iceland (source: https://www.eccnet.eu/it/node/31).
ECC_COUNTRIES = EU_MEMBER_STATES | {"NO", "IS"}

AU_STATE_OFFICES: dict[str, HelpLine] = {
    # Source: https://www.qld.gov.au/law/your-rights/consumer-rights-complaints-and-scams/make-a-consumer-complaint/how-we-can-help
    "AU-QLD": HelpLine("the Office of Fair Trading (Queensland)",
                       "takes consumer complaints and can conciliate between you and the business",
                       "https://www.qld.gov.au/law/your-rights/consumer-rights-complaints-and-scams/"
                       "make-a-consumer-complaint/how-we-can-help"),
    # Source: https://www.commerce.wa.gov.au/publications/consumer-complaint-form
    "AU-WA": HelpLine("Consumer Protection (Western Australia)",
                      "takes formal consumer complaints online",
                      "https://www.commerce.wa.gov.au/publications/consumer-complaint-form"),
}

AU_GENERIC = HelpLine("your state or territory's fair trading or consumer affairs office",
                      "takes complaints about businesses and can help settle them")

# The helpline's number is given by stored council pages (https://cumberland.gov.uk/business-and-licensing/
# trading-standards/advice-consumers/advice-and-help-consumers and https://www.milton-keynes.gov.uk/
# environmental-health/trading-standards/trading-standards-consumer-advice); no stored page of the service's own
# advice pages was found, so no address is linked.
GB_HELP = HelpLine("the Citizens Advice consumer service",
                   "gives free advice on consumer problems and passes reports on to Trading Standards "
                   "(consumer helpline 0808 223 1133)")

US_HELP = (
    # The address is given by a stored US Navy page (https://www.doncio.navy.mil/chips/ArticleDetails.aspx?ID=14024)
    # announcing the FTC's reporting site; the site's own page is not stored.
    HelpLine("the Federal Trade Commission (FTC)", "takes reports of bad business practices at ReportFraud.ftc.gov",
             "https://reportfraud.ftc.gov/"),
    # Source: https://naag.org/issues/consumer-protection
    HelpLine("your state attorney general", "takes consumer complaints, and some offices mediate them",
             "https://naag.org/issues/consumer-protection"),
)

# Source: https://www.eccnet.eu/ecc-network/our-services/our-work
EU_HELP = HelpLine("the European Consumer Centre in your country (ECC-Net)",
                   "helps for free when the company is based in another EU country, Norway or Iceland",
                   "https://www.eccnet.eu/ecc-network/our-services/our-work")

GENERIC = HelpLine("the consumer protection agency or ombudsman where you live",
                   "can tell you what else you can do about a business that will not cancel")


def help_lines(country: str | None, region: str | None = None) -> list[HelpLine]:
    """Who to turn to, for the consumer's country (and Australian state)."""
    code = (country or "").upper()
    if code == "AU":
        return [AU_STATE_OFFICES.get((region or "").upper(), AU_GENERIC)]
    if code == "GB":
        return [GB_HELP]
    if code == "US":
        return list(US_HELP)
    if code in ECC_COUNTRIES:
        return [EU_HELP]
    return [GENERIC]

"""Failure drills: cases filed over HTTP while workers are killed, the broker or the database is stopped, or
the SMTP server refuses for a while; then every letter and e-mail is counted, to show that nothing is lost and
nothing is done twice. ``python -m bench.drills [kill9 broker postgres smtp]``; ``CASEWORK_DRILLS_SCALE=small``
for a quick run (see :mod:`bench.drills.scale`)."""

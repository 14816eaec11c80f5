"""The public JSON API, version 1 (see API.md), and its OpenAPI description."""

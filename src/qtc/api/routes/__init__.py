"""The API's routers: team orders, team account (trades, portfolio, errors) and public pages."""

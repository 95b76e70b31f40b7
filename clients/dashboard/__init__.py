"""The members' web client (`sawgrid dashboard`): market, account and operator pages."""

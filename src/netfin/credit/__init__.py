"""Credit: loan products and schedules, origination, scorecards and green pricing."""

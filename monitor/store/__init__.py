"""All SQL lives here: models, the engine and unit of work, and one repository module per concern."""

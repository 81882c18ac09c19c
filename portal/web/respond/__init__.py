"""The respondent's pages: landing, questionnaire, thank-you, single-use codes."""

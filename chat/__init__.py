"""Chat platforms (Slack, Mattermost, Microsoft Teams, Matrix): OPAA answers where people work."""

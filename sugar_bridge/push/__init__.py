"""Pushing computed segments back into Sugar."""

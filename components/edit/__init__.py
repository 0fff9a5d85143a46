"""What an edit is: the request model, its @labels, the pre-flight checks, its modes (takes,
segments), one job per intent, and the API code that makes one."""

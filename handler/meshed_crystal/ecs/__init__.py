"""What every mode needs of ECS: the inline task definition in ECS's API shape (``model``),
the application's task definition and the rules ECS enforces at registration (``taskdef``).
The revisions of an id found in ECS, and the rules of their reuse and retention, are the
lifecycle's (``mode``, ``actions``)."""

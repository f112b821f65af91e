"""Staff pages in the admin: job list, job page, queues, workers and charts; they read the ledger through selectors and act through services."""

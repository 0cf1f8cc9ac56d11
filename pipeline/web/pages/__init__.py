"""The desk's pages, one module per area: sign-in, the queue, documents, NCALayer, cases, public verification
and operations.  Each handler takes the request and finds the :class:`~pipeline.web.desk.Desk` on the app."""

"""The HTTP service (``kras-rules serve``): the JSON API, CDS Hooks and the tutoring page.

- :mod:`.app`: the FastAPI application (evaluate, why, compare, catalogue, rules, schema), whose
  responses are byte for byte the JSON the command line prints, and whose OpenAPI schema is made
  of the engine's own pydantic models;
- :mod:`.cds`: CDS Hooks discovery and the service that turns options into cards;
- ``static/``: the tutoring page.

Stateless: nothing is kept between requests but the loaded rule base, so any number of copies can
run behind a load balancer. Needs the ``serve`` extra (``pip install 'kras-rules[serve]'``).
"""

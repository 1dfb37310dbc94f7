"""Tutoring: what a teaching tool asks of an evaluation beyond the verdicts.

- :mod:`.short`: a summary of at most 140 characters per option, beside the full explanation;
- :mod:`.criteria`: a rule's gate and label criteria for a case, in words, each met, not met or
  unknown;
- :mod:`.whynot`: "why (not) this therapy?" for every therapy of the catalogue, including those no
  rule concluded about;
- :mod:`.compare`: what changes between two evaluations (the "what if" of one changed fact).

The entry points are methods of :class:`engine.api.Engine` (``explain``, ``compare``).
"""

"""The default backend's evaluation of one case: inference and resolution.

- :mod:`engine.evaluation.evaluator`: the rule base compiled into condition nodes, the plans (the
  rules that can matter for a cancer type, date interval and jurisdiction) and the three-valued
  interpreter that runs them: the reference for every other way of evaluating.
- :mod:`engine.evaluation.plancode`: a plan used often, compiled to straight-line Python.
- :mod:`engine.evaluation.resolve`: from the rules' outcomes to one option per therapy, with its
  criteria, citations and explanations.

The durable-rules backend (:mod:`engine.durable`) does the inference another way and shares the
resolution.
"""

"""Hypothesis strategies for property-testing a rule base, and functions for writing such tests.

Everything here is derived from the rule base it is given: the cancer codes, genes, variants,
drug classes, dates and jurisdictions that its rules mention, widened with the rest of its
vocabulary (every OncoTree code and name, every gene and alias, kind words, cDNA hotspots, drug
brand and code names, regimens). Nothing names a therapy, gene or date of its own, so the same
strategies exercise the shipped rules, the miniature rule base of the tests, or a rule base of
your own::

    import pytest
    from hypothesis import given
    from engine.api import Engine
    from engine.errors import CaseError
    from engine.testing import cases, invalid_cases, rule_cases

    eng = Engine("my_rules/")

    @given(cases(eng))
    def test_every_option_is_cited(case):
        for option in eng.evaluate(case).options:
            assert option.citations

    @given(rule_cases(eng, "MY-001"))        # cases around one rule's dates, gates and criteria
    def test_my_rule(case):
        ...

    @given(invalid_cases(eng))
    def test_bad_input_is_reported(case):
        with pytest.raises(CaseError):
            eng.evaluate(case)

Strategies (each draws case dicts in the case format of the README, with ``as_of`` always set):

:func:`cases`
    varied valid cases (``cases(eng, cancer_type="PAAD")``: of one cancer type): cancer types the rules name, their subtypes and neighbours, any OncoTree
    code or name; alterations of the genes the rules test in every notation the vocabulary reads
    (one- and three-letter HGVS, cDNA hotspots, kind words) and real variants of other genes;
    prior therapies by generic, brand or code name or by regimen; dates around every rule's
    ``effective_from`` / ``effective_to``.
:func:`boundary_cases`, :func:`rule_cases`
    cases on the edges of one rule (and the derived facts and rules it rests on): each
    alteration pattern present, just missed (a neighbouring codon, another kind), vague (an
    unspecified mutation), absent in a tested gene or untested; history unknown, treatment-naive,
    one line short of or exactly meeting a criterion; stage unknown or each stage; the day
    before, of and after each date of the rule.
:func:`alterations`, :func:`prior_therapies`
    the parts of a case, drawn the same way.
:func:`invalid_cases`, :func:`labelled_invalid_cases`
    cases with exactly one thing wrong (an unknown field, a misspelt code, gene, drug or
    regimen, an unreadable or impossible variant, a wrong type, a contradiction); the labelled
    form also gives the field path the error must name.

Also: :func:`domain` (what the strategies draw from), :func:`variant_spellings`,
:func:`boundary_dates`, :func:`rules_concluding`, :func:`at_date`, :func:`reduce_case`,
:func:`untest_gene`, :func:`completions` (the values removed data could have had),
:func:`case_genes`, :func:`shuffle_case`, :data:`REDUCTIONS`.

Needs hypothesis (``pip install 'kras-rules[test]'``). Nothing in the engine imports this package.

The package's modules: ``domain`` (what the rules talk about, gathered once per rule base),
``strategies`` (valid cases), ``invalid`` (cases with one thing wrong), ``edits`` (a case at
another date, with data removed or put back, shuffled).
"""
from __future__ import annotations

from engine.testing.domain import Domain, Pattern, REDUCTIONS, boundary_dates, domain, rules_concluding, variant_spellings
from engine.testing.edits import at_date, case_genes, completions, reduce_case, shuffle_case, untest_gene
from engine.testing.invalid import INVALID_KINDS, invalid_cases, labelled_invalid_cases
from engine.testing.strategies import alterations, boundary_cases, cases, prior_therapies, rule_cases

__all__ = [
    "Domain",
    "INVALID_KINDS",
    "Pattern",
    "REDUCTIONS",
    "alterations",
    "at_date",
    "boundary_cases",
    "boundary_dates",
    "case_genes",
    "cases",
    "completions",
    "domain",
    "invalid_cases",
    "labelled_invalid_cases",
    "prior_therapies",
    "reduce_case",
    "rule_cases",
    "rules_concluding",
    "shuffle_case",
    "untest_gene",
    "variant_spellings",
]

"""Fitting ranked snippets into a token budget, stopping where relevance falls off."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twinmcp.search.ranking import Ranked
from twinmcp.search.snippets import SnippetRecord, cost

DEFAULT_BUDGET = 5000
# A snippet scoring below this share of the best one is not worth the reader's tokens.
RELEVANCE_FLOOR = 0.5
# ...but a question always gets at least this many snippets when they fit, and its answer
# fills at least this share of the budget before the floor ends it: the next snippets of a
# good ranking often hold the line the question needs (the option's other spelling, the fix
# after the symptom), and a short answer saves the reader less than a missed one costs.
# Measured with bench.eval --set all, model ranking (2026-12-05): hit@5000 dev / held-out /
# held-out 2 .963/.912/.863 -> .963/.925/.887 with 0.4, tokens median 2346/1407/897 ->
# 2346/1867/1801; 0.5 raised the dev median to 2465 for one more held-out 2 hit at 2500.
MINIMUM_SNIPPETS = 3
MINIMUM_FILL = 0.4


@dataclass(frozen=True)
class Packed:
    snippets: list[Ranked]
    tokens_used: int
    # Snippets that ranked within the answer but were left out by `is_withheld`.
    withheld: int = 0


def pack(
    ranked: Sequence[Ranked],
    budget: int,
    *,
    relevance_floor: float = RELEVANCE_FLOOR,
    minimum_snippets: int = MINIMUM_SNIPPETS,
    minimum_fill: float = MINIMUM_FILL,
    is_withheld: Callable[[SnippetRecord], bool] | None = None,
) -> Packed:
    """Takes snippets in rank order while they fit; never exceeds `budget`.

    A snippet too large for what is left is skipped (a smaller one further down may still fit).
    Once `minimum_snippets` are in and `minimum_fill` of the budget is used, snippets below
    `relevance_floor` of the best score end it.
    A snippet `is_withheld` refuses is left out and counted.
    """
    chosen: list[Ranked] = []
    used = 0
    withheld = 0
    filled = minimum_fill * budget
    for item in ranked:
        if len(chosen) >= minimum_snippets and item.score < relevance_floor and used >= filled:
            break
        if is_withheld is not None and is_withheld(item.snippet):
            withheld += 1
            continue
        price = cost(item.snippet)
        if used + price > budget:
            continue
        chosen.append(item)
        used += price
    return Packed(chosen, used, withheld)

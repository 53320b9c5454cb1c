"""The cross-library eval's hints, for one set's four libraries or all sets' twelve."""

from __future__ import annotations

from bench.eval import SETS, questions_of
from bench.eval_crosslib import _title, hints_for


def test_three_hints_hold_the_right_library_and_two_others_from_the_libraries_given() -> None:
    questions = questions_of("dev")
    own = sorted({q.library for q in questions})
    together = [*own, "pallets/click", "pallets/jinja", "pinojs/pino", "kludex/starlette"]
    places = set()
    for q in questions:
        for libraries in (own, together):
            hints = hints_for(q, libraries)
            assert len(hints) == len(set(hints)) == 3
            assert "/" + q.library in hints
            assert {h.lstrip("/") for h in hints} <= set(libraries)
        places.add(hints_for(q, own).index("/" + q.library))
    # The right library's place varies, so its position says nothing.
    assert places == {0, 1, 2}
    # With twelve libraries, the hints reach beyond the question's own set.
    reached = {h.lstrip("/") for q in questions for h in hints_for(q, together)}
    assert reached - set(own)


def test_a_set_asked_of_all_libraries_is_titled_so() -> None:
    assert _title("heldout", together=True) == "heldout, all sets' libraries together"
    assert _title("dev", together=False) == "dev"
    assert SETS == ("dev", "heldout", "heldout2", "heldout3")

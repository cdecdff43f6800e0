"""`--path-selection first|diverse` and `--keep-paths K` (augmath.augment.verify.filter_paths): which correct paths
stand for duplicates and which survive a cap, on tables of paths whose most diverse pick is known."""

from __future__ import annotations

import pytest
from rapidfuzz.distance import Levenshtein

from augmath.augment.verify import filter_paths

# Four correct MATH paths (answer 5), all distinct: 0 and 1 differ by one word, 2 a little more, 3 is written
# another way entirely. Edit distances: d(0,1)=3, d(0,2)=17, d(0,3)=62, d(1,2)=18, d(1,3)=63, d(2,3)=66.
PATHS = ["We add 2 and 3 to get 5, so the answer is \\boxed{5}.",
         "We add 2 and 3 and get 5, so the answer is \\boxed{5}.",
         "Adding gives 2 + 3 = 5, so the answer is \\boxed{5}.",
         "Count the marbles one by one: two red ones, then three blue ones; altogether that makes \\boxed{5}."]

# GSM8K paths: A and B have the same equation list (RFT's duplicate), C another one. B is far from C, A close.
A = "He has 3*4 = <<3*4=12>>12 apples.\nThen 12+2 = <<12+2=14>>14.\n#### 14"
B = ("Three bags of four apples make <<3*4=12>>12 apples, and with the two loose ones he owns <<12+2=14>>14 apples "
     "in all.\n#### 14")
C = "He has 4*3 = <<4*3=12>>12 apples.\nThen 2+12 = <<2+12=14>>14.\n#### 14"


def kept(verdicts) -> list[int]:
    return [v.index for v in verdicts if v.kept]


def test_the_table_distances_are_what_the_cases_assume():
    d = Levenshtein.distance
    assert [d(PATHS[0], p) for p in PATHS] == [0, 3, 17, 62]
    assert d(A, C) < d(B, C)


@pytest.mark.parametrize("selection, keep, expected", [
    ("first", None, [0, 1, 2, 3]),    # no cap: every distinct correct path, whatever the selection
    ("diverse", None, [0, 1, 2, 3]),
    ("first", 2, [0, 1]),             # the first two seen: the two near-copies
    ("diverse", 2, [0, 3]),           # path 0, then the farthest from it
    ("first", 3, [0, 1, 2]),
    ("diverse", 3, [0, 2, 3]),        # then the farthest from {0, 3} in sum: 2 (17+66) beats 1 (3+63)
    ("diverse", 1, [0]),
])
def test_cap_keeps_the_first_or_the_most_diverse(selection, keep, expected):
    verdicts = filter_paths(PATHS, "5", "math", selection=selection, keep=keep)
    assert kept(verdicts) == expected
    why = "over the --keep-paths cap" if selection == "first" else "less diverse than the kept paths"
    assert all(v.reason == why for v in verdicts if not v.kept)


def test_wrong_and_duplicate_paths_never_count_against_the_cap():
    texts = ["The answer is \\boxed{6}.", PATHS[0], PATHS[0], PATHS[3], PATHS[1]]
    verdicts = filter_paths(texts, "5", "math", selection="diverse", keep=2)
    assert [v.reason for v in verdicts] == ["wrong answer", None, "duplicate path", None,
                                            "less diverse than the kept paths"]


@pytest.mark.parametrize("selection, expected_kept, duplicate", [
    ("first", [0, 1], 2),     # A stands for {A, B}: the first seen
    ("diverse", [1, 2], 0),   # RFT: B replaces A, being farther from the other kept path C
])
def test_rft_duplicate_of_the_same_equations_keeps_the_farthest(selection, expected_kept, duplicate):
    verdicts = filter_paths([A, C, B], "14", "gsm8k", selection=selection)
    assert kept(verdicts) == expected_kept
    assert verdicts[duplicate].reason == "duplicate path"


def test_diverse_replacement_needs_a_strictly_larger_spread():
    # B then A: A is closer to C than B is, so B stays (RFT replaces only on a strictly larger score)
    assert kept(filter_paths([B, C, A], "14", "gsm8k", selection="diverse")) == [0, 1]


def test_unknown_selection_is_an_error():
    with pytest.raises(ValueError, match="farthest"):
        filter_paths(PATHS, "5", "math", selection="farthest")

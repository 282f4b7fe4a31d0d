"""The query language: every operator, the errors and their positions, limits, round trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import QuerySyntaxError
from monitor.match import MatchDoc, TermSpec, compile_matcher, parse, prefilter, validate
from monitor.match.query import AliasRef, And, Field, Meta, Near, Not, Or, Phrase, Term


def test_words_and_implicit_and():
    assert parse("офицер") == Term("офицер")
    assert parse("a b") == And((Term("a"), Term("b")))
    assert parse("a AND b") == parse("a b")


def test_or_binds_looser_than_and():
    assert parse("a OR b c") == Or((Term("a"), And((Term("b"), Term("c")))))
    assert parse("(a OR b) c") == And((Or((Term("a"), Term("b"))), Term("c")))


def test_lowercase_operators_are_words():
    assert parse("war and peace") == And((Term("war"), Term("and"), Term("peace")))


def test_not_forms():
    assert parse("a NOT b") == And((Term("a"), Not(Term("b"))))
    assert parse("a -b") == parse("a NOT b")
    assert parse("a AND NOT (b OR c)") == And((Term("a"), Not(Or((Term("b"), Term("c"))))))
    assert parse("a NOT NOT b") == And((Term("a"), Not(Not(Term("b")))))


def test_near_and_ordered_near():
    q = parse("(КНДР OR северокорейский) NEAR/3 (солдат OR офицер)")
    assert q == Near(Or((Term("КНДР"), Term("северокорейский"))),
                     Or((Term("солдат"), Term("офицер"))), 3, False)
    assert parse("a NEAR/0f b") == Near(Term("a"), Term("b"), 0, True)
    assert parse('"a b" NEAR/2 @x') == Near(Phrase("a b"), AliasRef("x"), 2)
    assert parse("a NEAR/1 b NEAR/2 c") == Near(Near(Term("a"), Term("b"), 1), Term("c"), 2)


def test_not_binds_looser_than_near():
    assert parse("x NOT a NEAR/3 b") == And((Term("x"), Not(Near(Term("a"), Term("b"), 3))))


def test_phrase_slop_prefix_exact_alias():
    assert parse('"a b"~4') == Phrase("a b", slop=4)
    assert parse("офицер*") == Term("офицер", prefix=True)
    assert parse("!офицеры") == Term("офицеры", exact=True)
    assert parse('!"a b"') == Phrase("a b", exact=True)
    assert parse("@kim_jong_un") == AliasRef("kim_jong_un")
    assert parse(r'"say \"hi\""') == Phrase('say "hi"')


def test_fields():
    assert parse("title:КНДР") == Field("title", Term("КНДР"))
    assert parse("TEXT:(a OR b)") == Field("text", Or((Term("a"), Term("b"))))
    assert parse("lang:ru a") == And((Meta("lang", ("ru",)), Term("a")))
    assert parse("lang:(ru OR uk) a") == And((Meta("lang", ("ru", "uk")), Term("a")))
    assert parse("channel:@rian_ru a") == And((Meta("channel", ("@rian_ru",)), Term("a")))
    assert parse('source:"my feed" a') == And((Meta("source", ("my feed",)), Term("a")))


def test_hyphenated_word_is_one_term():
    assert parse("Jong-un") == Term("Jong-un")


@pytest.mark.parametrize(
    ("query", "position", "expected_part"),
    [
        ("", 0, "word"),
        ("a AND", 5, "word"),
        ("(a OR b", 7, "')'"),
        ("a OR b)", 6, "end of query"),
        ('"abc', 0, 'closing "'),
        ("foo:bar", 0, "title:"),
        ("a NEAR b", 2, "NEAR/<n>"),
        ("a NEAR/x b", 2, "NEAR/<n>"),
        ("a NEAR/3 (b AND c)", 9, "OR-group"),
        ("(a AND b) NEAR/3 c", 0, "OR-group"),
        ("a NEAR/3 lang:ru", 9, "OR-group"),
        ("of*cer", 2, "end of a word"),
        ("*", 0, "word"),
        ('"a b"~', 6, "number"),
        ("a - b", 3, "word"),
        ("title:text:a", 6, "another field"),
        ("lang:", 5, "lang value"),
        ("@", 1, "alias name"),
        ("!*abc", 1, "end of a word"),
        ('""', 0, "word inside"),
        ("— …", 0, "word"),
        ("a ~2", 2, "phrase"),
    ],
)
def test_errors_have_position_and_expectation(query, position, expected_part):
    with pytest.raises(QuerySyntaxError) as ei:
        parse(query)
    err = ei.value
    assert err.position == position, (err, err.position)
    assert expected_part in err.expected
    assert err.query == query
    assert "^" in err.pointer()


@pytest.mark.parametrize("query", ["NOT x", "-x", "a OR NOT b", "-a -b", "NOT (a AND b)",
                                   "title:(NOT x)"])
def test_only_negative_queries_are_rejected(query):
    with pytest.raises(QuerySyntaxError, match="positive"):
        parse(query)


def test_negative_with_positive_scope_is_fine():
    parse("lang:ru NOT x")
    parse("a AND (NOT b OR c)")


def test_length_and_nesting_limits():
    with pytest.raises(QuerySyntaxError) as ei:
        parse("a " * 1001)
    assert ei.value.position == 2000
    parse("a " * 999)
    deep = "(" * 21 + "a" + ")" * 21
    with pytest.raises(QuerySyntaxError) as ei:
        parse(deep)
    assert ei.value.position == 20 and "nesting" in ei.value.expected
    parse("(" * 20 + "a" + ")" * 20)
    parse(deep, max_nesting=30)
    with pytest.raises(QuerySyntaxError):
        parse("NOT " * 30 + "a b")


def test_unknown_alias_reports_its_position():
    with pytest.raises(QuerySyntaxError) as ei:
        validate("КНДР OR @kim", {"other": ["x"]})
    assert ei.value.position == 8
    validate("КНДР OR @KIM", {"kim": ["Ким Чен Ын"]})


def test_short_prefix_rejected_by_validate():
    with pytest.raises(QuerySyntaxError) as ei:
        validate("a OR of*")
    assert ei.value.position == 5 and "3" in ei.value.expected
    validate("of*", min_prefix=2)
    with pytest.raises(QuerySyntaxError):
        validate('"офицер армии" OR "к* х"')


@pytest.mark.parametrize("query", [
    "a OR b c", "a NOT b", '"x y"~2 NEAR/3f (c OR d)', "title:(a OR b) lang:(ru OR uk)",
    "NOT a NEAR/2 b c", '!"a b" @al', 'source:"a b" x', "(a NEAR/1 b) NEAR/2 c",
    "a NEAR/1 (b NEAR/2 c)", "text:(NOT x) y", "офицер* -армия",
])
def test_round_trip(query):
    ast = parse(query)
    assert parse(str(ast)) == ast
    assert parse(ast.to_query()) == ast


# -- property tests -------------------------------------------------------------------------
_atoms = st.sampled_from([
    "a", "b", "офицер", "КНДР", "Jong-un", "офи*", "!x", '"a b"', '"a b"~2', "@al", "(", ")",
    " ", "AND", "OR", "NOT", "-", "NEAR/2", "NEAR/3f", "NEAR", "title:", "lang:", "lang:ru",
    "source:", '"', "\\", "*", "~", "!", "@", ":", "х:", "💥", "\u200b", "  ", "and",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_atoms, max_size=14).map(" ".join) | st.text(max_size=40))
def test_random_queries_never_crash(query):
    try:
        ast = parse(query)
    except QuerySyntaxError as err:
        assert 0 <= err.position <= len(query)
        assert err.expected
        return
    again = parse(str(ast), max_nesting=100)
    assert again == ast
    try:
        validate(query, {"al": ["Ким Чен Ын", "Kim Jong-un"]})
    except QuerySyntaxError as err:
        assert 0 <= err.position <= len(query)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_atoms, max_size=10).map(" ".join),
       st.lists(st.sampled_from(["a", "b", "офицеры", "КНДР", "Jong-un", "x", " ", "🔥", "\u200b",
                                 "ａ", "officer's"]), max_size=12).map(" ".join))
def test_random_queries_compile_or_report_and_match_without_crashing(query, text):
    aliases = {"al": ["Ким Чен Ын", "Kim Jong-un"]}
    m = compile_matcher([TermSpec(1, query), TermSpec(2, "a")], aliases)
    assert 2 not in m.errors
    if 1 in m.errors:
        assert isinstance(m.errors[1], QuerySyntaxError)
        assert 0 <= m.errors[1].position <= len(query)
    for h in m.match(MatchDoc(text=text, title=text[:5] or None)):
        assert h.field in ("title", "text")
        assert all(0 <= s.start < s.end for s in h.spans)
    try:
        pre = prefilter(query, aliases)
    except QuerySyntaxError:
        assert 1 in m.errors
    else:
        assert 1 not in m.errors
        assert pre is None or all(isinstance(p, str) and p for p in pre)

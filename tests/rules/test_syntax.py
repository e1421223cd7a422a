import pytest

from bot.rules.syntax import And, Limits, Not, Or, RuleError, Term, describe, parse_rule


@pytest.mark.parametrize("rule, understood", [
    ("gaga duet", "(gaga AND duet)"),
    ("gaga AND duet", "(gaga AND duet)"),
    ('"britney spears"', '"britney spears"'),
    ("gaga OR britney", "(gaga OR britney)"),
    ("gaga | britney", "(gaga OR britney)"),
    ("gaga -rumor", "(gaga AND NOT rumor)"),
    ("gaga NOT rumor", "(gaga AND NOT rumor)"),
    ('"lady gaga" AND "britney spears" AND duet', '("lady gaga" AND "britney spears" AND duet)'),
    ('("lady gaga" OR gaga) AND ("britney spears" OR britney) duet -rumor',
     '(("lady gaga" OR gaga) AND ("britney spears" OR britney) AND duet AND NOT rumor)'),
    ("a OR b c", "(a OR (b AND c))"),  # AND binds tighter, as in search engines
    ("“lady gaga”", '"lady gaga"'),  # typographic quotes pasted from a phone
    ("t-shirt", "t-shirt"),  # a hyphen inside a word is not an exclusion
    ("title:duet", "title:duet"),
    ('title:"lady gaga"', 'title:"lady gaga"'),
    ("gaga -url:tabloid.example", "(gaga AND NOT url:tabloid.example)"),
    ("duet*", "duet*"),
    ('"lady ga*"', '"lady ga*"'),
    ("/gaga+/i", "/gaga+/i"),
    ("summary:/duet(s)?/", "summary:/duet(s)?/"),
    ("tags:pop", "tag:pop"),
    ("AC/DC", "AC/DC"),
    ("10:30", "10:30"),  # digits before a colon are not a field
    ('("lady gaga" OR gaga) AND ("britney spears" OR britney) duet -rumor*',
     '(("lady gaga" OR gaga) AND ("britney spears" OR britney) AND duet AND NOT rumor*)'),
])
def test_rule_is_understood(rule, understood):
    assert describe(parse_rule(rule)) == understood


@pytest.mark.parametrize("rule, column, message", [
    ('gaga "lady gag', 6, "unclosed quote"),
    ("(gaga duet", 1, 'unclosed "("'),
    ("gaga duet)", 10, 'unbalanced ")"'),
    ("gaga OR", 8, "expected a word"),
    ("OR gaga", 1, "expected a word"),
    ("", 1, "empty rule"),
    ("-rumor", 1, "at least one term that is not excluded"),
    ('gaga ""', 6, "empty phrase"),
    ("gaga !!!", 6, "no letters or digits"),
    ("titel:duet", 1, 'unknown field "titel:" — did you mean "title:"?'),
    ("gaga zzz:duet", 6, 'unknown field "zzz:"'),
    ("du*et", 3, "a * can only end a word"),
    ("d*", 1, "at least 2 letters before *"),
    ("gaga /duet", 6, "unclosed regex"),
    ("/duet/x", 7, 'unknown regex flag "x"'),
    ("/(?<=a)b/", 1, "look-around and back-references are not supported"),
    ("/(a/", 1, "invalid regex"),
    ("//", 1, "empty regex"),
])
def test_invalid_rule_names_the_column(rule, column, message):
    with pytest.raises(RuleError) as err:
        parse_rule(rule)
    assert err.value.column == column
    assert message in str(err.value)
    assert str(err.value).endswith(f"at column {column}")


def test_limits_are_enforced():
    with pytest.raises(RuleError, match="longer than 10"):
        parse_rule("a" * 11, Limits(max_length=10))
    with pytest.raises(RuleError, match="more than 3 terms"):
        parse_rule("a b c d", Limits(max_terms=3))
    with pytest.raises(RuleError, match="nested deeper than 2"):
        parse_rule("(((a)))", Limits(max_depth=2))


def test_tree_shape():
    tree = parse_rule('"lady gaga" -rumor')
    assert tree == And((Term("lady gaga", "phrase", 1), Not(Term("rumor", "word", 14))))
    assert isinstance(parse_rule("a|b"), Or)

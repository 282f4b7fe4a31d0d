"""``match(doc, snippets=False)``: the same terms and spans, without the snippet work."""

from monitor.match import MatchDoc, TermSpec, compile_matcher


def test_snippets_off_keeps_terms_and_spans():
    m = compile_matcher([TermSpec(1, '"северокорейские офицеры"'), TermSpec(2, "Донецк*"),
                         TermSpec(3, "ВСУ NEAR/5 полигон")])
    doc = MatchDoc(title="Удар под Донецком",
                   text="При ударе ВСУ по полигону погибли шесть северокорейских офицерoв.")
    full, bare = m.match(doc), m.match(doc, snippets=False)
    assert [(h.term_id, h.field, h.spans) for h in full] == [(h.term_id, h.field, h.spans) for h in bare]
    assert {h.term_id for h in full} == {1, 2, 3}
    assert all(h.snippet and "«" in h.snippet for h in full)
    assert all(h.snippet == "" and h.snippet_html == "" for h in bare)

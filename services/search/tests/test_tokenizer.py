"""Code-aware tokenisation: identifiers whole and split, dotted names, stemming, stopwords."""

from __future__ import annotations

from twinmcp.search.tokenizer import (
    identifier_terms,
    plain_tokenize,
    shared_pairs,
    stem,
    tokenize,
    word_pairs,
    word_sequence,
)


def test_camel_case_identifiers_are_kept_whole_and_split() -> None:
    terms = tokenize("CORSMiddleware")
    assert "corsmiddleware" in terms
    assert "cor" in terms or "cors" in terms
    assert stem("middleware") in terms


def test_snake_case_identifiers_are_kept_whole_and_split() -> None:
    terms = tokenize("exclude_unset")
    assert "exclude_unset" in terms
    assert stem("exclude") in terms and stem("unset") in terms


def test_dotted_names_give_the_whole_name_each_part_and_the_sub_words() -> None:
    terms = tokenize("app.add_middleware")
    assert {"app.add_middleware", "app", "add_middleware", "add", stem("middleware")} <= set(terms)


def test_acronyms_inside_identifiers_split_at_the_word_boundary() -> None:
    terms = tokenize("HTTPTransport")
    assert "httptransport" in terms and "http" in terms and stem("transport") in terms


def test_inflections_of_one_word_share_a_stem() -> None:
    assert stem("caching") == stem("cached") == stem("cache")
    assert stem("handlers") == stem("handler")
    assert stem("dependencies") == stem("dependency")
    assert stem("validation") == stem("validate")


def test_stopwords_are_dropped_from_prose_but_identifiers_keep_their_parts() -> None:
    assert tokenize("how do I use the client") == [stem("client")]
    assert "get" in tokenize("get_db")


def test_the_baseline_tokeniser_does_nothing_clever() -> None:
    assert plain_tokenize("app.add_middleware(CORSMiddleware)") == [
        "app",
        "add",
        "middleware",
        "corsmiddleware",
    ]


def test_word_pairs_match_a_phrase_however_an_identifier_spells_it() -> None:
    phrase = word_pairs("the remote addr of the request")
    assert ("remot", "addr") in phrase
    assert ("remot", "addr") in word_pairs("request.remote_addr")
    assert ("remot", "addr") in word_pairs("remoteAddr")
    assert ("remot", "addr") not in word_pairs("the addr of a remote host")


def test_apply_does_not_collide_with_app_nor_header_with_head() -> None:
    assert stem("apply") == stem("applies") == stem("applied") == stem("applying")
    assert stem("apply") != stem("app")
    assert stem("headers") == stem("header") != stem("head")
    assert stem("exceeded") == stem("exceed")


def test_shared_pairs_counts_what_intersecting_both_texts_pairs_counts() -> None:
    texts = [
        "the remote addr of the request",
        "request.remote_addr and remoteAddr, remote addr again",
        "timeout timeout timeout: set the timeout of the client",
        "Client(timeout=5.0) # the client's timeout",
        "东京 résumé naïve 123 456 HTTPTransport http_transport",
        "",
    ]
    for query in texts:
        pairs = word_pairs(query)
        for text in texts:
            assert shared_pairs(pairs, text) == len(pairs & word_pairs(text)), (query, text)


def test_a_word_sequence_lists_each_raw_tokens_pieces_in_reading_order() -> None:
    assert word_sequence("Set the remoteAddr of http_client.get_timeout() to 5") == [
        "set",
        "remot",
        "addr",
        "http",
        "client",
        "timeout",
        "5",
    ]


def test_identifier_terms_are_the_quoted_code_names_as_the_index_keeps_them() -> None:
    query = "behind nginx request.remote_addr is 127.0.0.1; does get_db run twice for EventSource"
    assert identifier_terms(query) == {"request.remote_addr", "get_db", "eventsource"}
    # One piece is a word, whatever its underscores; numbers are not names.
    assert identifier_terms("plain words, a number 42 and __init__") == set()

"""Full-text search of the conversation list (storage/search.py) on SQLite's FTS5 and PostgreSQL's
tsvector: ranked, with a snippet, kept in step with every write, built for the data already there,
and never broken by what is typed or by what a model wrote."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from secretgpt.records import StreamStatus
from secretgpt.storage.migrations import MIGRATIONS, latest_version
from secretgpt.storage.search import fts5_query, search_terms, tsquery
from secretgpt.storage.snippets import SNIPPET_CHARS, snippet
from secretgpt.storage.sql import SqlConversationStore
from tests.test_deleted_text import files_holding
from tests.test_storage_sql import A, B, exchange, record


@pytest.fixture
async def store(make_store: Callable[[], Awaitable[SqlConversationStore]]) -> SqlConversationStore:
    return await make_store()


async def found(store: SqlConversationStore, term: str, owner: str = A) -> list[str]:
    return [c.title for c in await store.list_conversations(owner, search=term)]


def highlighted(snippet: str, highlights: list[tuple[int, int]]) -> list[str]:
    return [snippet[start:end] for start, end in highlights]


# --- what is found, and how it is shown ---------------------------------------------------------

async def test_results_come_with_a_snippet_around_the_match_and_its_words_highlighted(store: SqlConversationStore):
    conv = await store.create(A, "Trip")
    await exchange(store, conv.id, "Where should we go?",
                   "Many travellers like the old town.\n\nThe harbour of Valletta is lovely at dusk, "
                   "and the ferries leave every hour.", "s1")
    [summary] = await store.list_conversations(A, search="valletta ferr")
    assert summary.title == "Trip"
    assert summary.snippet is not None and "\n" not in summary.snippet
    assert "harbour of Valletta is lovely" in summary.snippet
    assert highlighted(summary.snippet, summary.highlights) == ["Valletta", "ferries"]
    # A list without a search has no snippets.
    assert [(c.snippet, c.highlights) for c in await store.list_conversations(A)] == [(None, [])]


async def test_a_match_in_the_title_alone_gives_the_title_as_snippet(store: SqlConversationStore):
    await store.create(A, "Budget for 2027")
    [summary] = await store.list_conversations(A, search="budget")
    assert (summary.snippet, highlighted(summary.snippet or "", summary.highlights)) == ("Budget for 2027", ["Budget"])


async def test_best_match_first_then_newest(store: SqlConversationStore):
    once = await store.create(A, "Once")
    await exchange(store, once.id, "a long question about many things, gardens among them, and more words here",
                   "fine", "s1")
    often = await store.create(A, "Often")
    await exchange(store, often.id, "gardens", "gardens gardens gardens", "s2")
    titled = await store.create(A, "Gardens of Italy")  # a title match counts double
    none = await store.create(A, "Unrelated")
    await exchange(store, none.id, "nothing", "here", "s3")
    assert (await found(store, "gardens"))[-1] == "Once"
    assert set(await found(store, "gardens")) == {"Once", "Often", "Gardens of Italy"}
    assert (await found(store, "gardens"))[0] in {"Often", titled.title}


async def test_model_text_in_a_snippet_stays_text(store: SqlConversationStore):
    conv = await store.create(A, "Hostile")
    hostile = '<img src=x onerror="alert(1)"> <script>steal()</script> **bold** payload [link](javascript:x)'
    await exchange(store, conv.id, "show me", hostile, "s1")
    [summary] = await store.list_conversations(A, search="payload")
    assert summary.snippet is not None
    assert highlighted(summary.snippet, summary.highlights) == ["payload"]
    # Nothing is added to the text: the highlight is offsets, not markup.
    assert "<mark>" not in summary.snippet and "\ue000" not in summary.snippet


async def test_a_huge_word_gives_a_bounded_snippet(store: SqlConversationStore):
    conv = await store.create(A, "Huge")
    await exchange(store, conv.id, "go", "needle " + "x" * 200_000 + " end", "s1")
    [summary] = await store.list_conversations(A, search="needle")
    assert summary.snippet is not None and len(summary.snippet) <= SNIPPET_CHARS + 2
    assert highlighted(summary.snippet, summary.highlights) == ["needle"]


@pytest.mark.parametrize("term", ['"', '""', '"unclosed', "*", "a*b", "NEAR", "NEAR(a b)", "a NEAR b", "-", "-a",
                                  "a OR b", "a AND NOT b", "(", ")", "a:b", "title:x", "question\x00", "\ud800x", "^a", "'", "it's", "\\",
                                  "a & b | !c", "<->", "a:*", "{x}", "\x00", "💥", "a" * 10_000, "x " * 400])
async def test_any_search_text_is_plain_text_and_never_raises(store: SqlConversationStore, term: str):
    conv = await store.create(A, "Syntax")
    await exchange(store, conv.id, 'NEAR the "quoted" a-b it\'s title:x {x} a:b c++', "OR AND NOT", "s1")
    assert await found(store, term) in ([], ["Syntax"])


async def test_operators_typed_are_words(store: SqlConversationStore):
    conv = await store.create(A, "Words")
    await exchange(store, conv.id, "Meet me NEAR the station", "OR the café", "s1")
    assert await found(store, "near") == ["Words"]
    assert await found(store, '"near station"') == ["Words"]
    assert await found(store, "OR") == ["Words"]
    assert await found(store, "-station") == ["Words"]  # not "without station"


async def test_an_empty_search_is_the_whole_list(store: SqlConversationStore):
    await store.create(A, "One")
    await store.create(A, "Two")
    assert await found(store, "") == await found(store, "   \t") == ["Two", "One"]
    assert await found(store, "?!") == []  # something typed, nothing that can match


async def test_other_owners_conversations_are_never_found(store: SqlConversationStore):
    mine = await store.create(A, "Mine")
    await exchange(store, mine.id, "shared word zebra", "ok", "s1")
    theirs = await store.create(B, "Zebra too")
    await store.add_user_turn(theirs.id, B, "zebra")
    assert await found(store, "zebra") == ["Mine"]
    assert await found(store, "zebra", owner=B) == ["Zebra too"]


# --- in step with every write -------------------------------------------------------------------

async def test_the_index_follows_checkpoints_branches_edits_renames_and_deletes(store: SqlConversationStore):
    conv = await store.create(A, "Draft title")
    question = await store.add_user_turn(conv.id, A, "first question about otters")
    await store.save_answer(record(conv.id, "s1", "partial answer about beavers"))
    assert await found(store, "beavers") == ["Draft title"]
    answer = await store.save_answer(record(conv.id, "s1", "the finished answer mentions herons",
                                            status=StreamStatus.COMPLETED))
    assert await found(store, "beavers") == []  # the checkpoint's text is replaced, not added
    assert await found(store, "herons") == ["Draft title"]

    await store.save_answer(record(conv.id, "s2", "an alternative about kingfishers", status=StreamStatus.COMPLETED),
                            sibling_of=answer)
    await store.add_user_turn(conv.id, A, "an edited question about voles", sibling_of=question)
    assert await found(store, "kingfishers") == await found(store, "voles") == ["Draft title"]
    assert await found(store, "otters") == ["Draft title"]  # the old branch is still searchable

    await store.rename(conv.id, A, "Wildlife")
    assert await found(store, "draft") == []
    assert await found(store, "wildlife") == ["Wildlife"]

    await index_agrees_with_the_texts(store)
    await store.delete(conv.id, A)
    for word in ("otters", "herons", "kingfishers", "voles", "wildlife"):
        assert await found(store, word) == [], word
    await index_agrees_with_the_texts(store)


async def index_agrees_with_the_texts(store: SqlConversationStore) -> None:
    """SQLite: FTS5's own check that the index holds exactly what its texts say (raises if a
    trigger indexed or removed anything wrongly); PostgreSQL computes its column from each row."""
    if store.engine.dialect.name == "sqlite":
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 1)")


async def test_terms_must_meet_in_one_message_or_the_title(store: SqlConversationStore):
    conv = await store.create(A, "Split")
    await exchange(store, conv.id, "lemons", "limes", "s1")
    assert await found(store, "lemons limes") == []
    assert await found(store, "split lemons") == []
    assert await found(store, "lemons") == ["Split"]


async def test_imported_conversations_are_searchable(store: SqlConversationStore):
    conv = await store.create(A, "To export")
    await exchange(store, conv.id, "question with aardvark", "answer with pangolin", "s1")
    exported = await store.export_json(conv.id, A)
    [copy] = await store.import_json(B, exported)
    assert [c.id for c in await store.list_conversations(B, search="pangolin")] == [copy]
    assert await found(store, "aardvark", owner=B) == ["To export"]
    await index_agrees_with_the_texts(store)


async def test_a_database_from_before_the_index_is_indexed_when_migrated(new_store_url: Callable[[], str]):
    url = new_store_url()
    old = await SqlConversationStore.open(url, migrations=MIGRATIONS[:3])  # v1..v3: as released, before the index
    conv = await old.create(A, "Older chat about narwhals")
    await exchange(old, conv.id, "what about walruses", "they have tusks", "s1")
    await old.close()

    store = await SqlConversationStore.open(url)
    try:
        assert await store.schema_version() == latest_version()
        assert await found(store, "narwhals") == await found(store, "tusks") == ["Older chat about narwhals"]
        await exchange(store, conv.id, "and manatees", "gentle", "s2")  # and kept in step from then on
        assert await found(store, "manatees") == ["Older chat about narwhals"]
    finally:
        await store.close()


@pytest.mark.sqlite_only("the data dir's files: the FTS5 index's segments")
async def test_a_deleted_conversations_words_leave_the_index_files(tmp_path: Path):
    from secretgpt.storage import database_url

    data_dir = tmp_path / "data"
    store = await SqlConversationStore.open(database_url(data_dir))
    try:
        kept = await store.create(A, "Kept")
        await exchange(store, kept.id, "keptword5150 stays", "fine", "s0")
        gone = await store.create(A, "gonetitle7731")
        await exchange(store, gone.id, "gonequestion4402 " * 50, "goneanswer9917 " * 50, "s1")
        # FTS5 stores words lower-cased, one by one: the scan looks for one such word.
        assert files_holding(data_dir, "goneanswer9917")
        await store.delete(gone.id, A)
        for word in ("gonetitle7731", "gonequestion4402", "goneanswer9917"):
            assert files_holding(data_dir, word) == [], word
        assert files_holding(data_dir, "keptword5150") == ["secretgpt.db"]
        assert await found(store, "keptword5150") == ["Kept"]
    finally:
        await store.close()


# --- the query and the snippet, as units ----------------------------------------------------------

def test_search_terms_keep_what_can_match():
    assert search_terms(None) is None and search_terms("  \n") is None
    assert search_terms('conf "vm" - * ()') == ["conf", '"vm"']
    assert len(search_terms("w " * 100) or []) == 16


def test_queries_quote_every_term():
    assert fts5_query(['say "hi"', "NEAR"]) == '"say ""hi"""* "NEAR"*'
    assert tsquery(["it's", "a\\b", "x&y"]) == "'it s':* & 'a b':* & 'x&y':*"


def test_a_snippet_is_text_and_offsets_around_the_first_match():
    made = snippet("Many travellers like the old town.\n\nThe harbour of Valletta is lovely at dusk, and the "
                   "ferries leave every hour, all day long.", ["valletta", "ferr"])
    assert made.text == "…town. The harbour of Valletta is lovely at dusk, and the ferries leave every hour, all…"
    assert [made.text[s:e] for s, e in made.highlights] == ["Valletta", "ferries"]
    assert snippet("Crème brûlée, CRÈME", ["creme"]).highlights == [(0, 5), (14, 19)]  # case, accents
    long = snippet("y" * 1000 + " needle " + "z" * 1000, ["needle"])
    assert len(long.text) <= SNIPPET_CHARS + 2 and long.text.startswith("…") and long.text.endswith("…")
    assert [long.text[s:e] for s, e in long.highlights] == ["needle"]
    assert snippet("short text", ["absent"]) == snippet("short text", [])  # no match: the start, unmarked
    assert snippet("short text", ["absent"]).highlights == []
    whole = "Compare Stop, Pause and Resume in a table."  # a title: whole, its "." no cut
    assert snippet(whole, ["resume"]).text == whole
    odd = snippet("<b>x</b> \ue000mark\ue001 end", ["mark"])  # the text as it is, nothing read into it
    assert (odd.text, [odd.text[s:e] for s, e in odd.highlights]) == ("<b>x</b> \ue000mark\ue001 end", ["mark"])

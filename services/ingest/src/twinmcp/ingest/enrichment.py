"""Optional: a chat model rewrites snippet titles and descriptions (only with OPENAI_API_KEY)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import openai
from twinmcp.ingest.documents import SnippetDraft

logger = logging.getLogger(__name__)

BATCH = 20
_PROMPT = (
    "You label documentation snippets for a code search index. For each snippet return a short "
    "imperative title (max 10 words) and a one-sentence description of what it shows. Answer "
    'with JSON: {"items": [{"title": ..., "description": ...}, ...]} in the same order.'
)


class ChatEnricher:
    """Batched; a failed or malformed answer keeps the parser's titles (never fails the job)."""

    def __init__(self, api_key: str, *, model: str, base_url: str | None = None) -> None:
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=3)
        self._model = model

    async def enrich(self, drafts: list[SnippetDraft]) -> list[SnippetDraft]:
        out: list[SnippetDraft] = []
        for start in range(0, len(drafts), BATCH):
            out.extend(await self._batch(drafts[start : start + BATCH]))
        return out

    async def _batch(self, drafts: list[SnippetDraft]) -> list[SnippetDraft]:
        payload = [
            {"title": d.title, "breadcrumb": list(d.breadcrumb), "content": d.content[:1500]}
            for d in drafts
        ]
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                response_format={"type": "json_object"},
                messages=[
                    {"role": "system", "content": _PROMPT},
                    {"role": "user", "content": json.dumps(payload)},
                ],
            )
            items = json.loads(response.choices[0].message.content or "{}").get("items", [])
        except (openai.OpenAIError, json.JSONDecodeError, AttributeError) as exc:
            logger.warning("enrichment skipped for %d snippets: %s", len(drafts), exc)
            return drafts
        if not isinstance(items, list) or len(items) != len(drafts):
            return drafts
        enriched = []
        for draft, item in zip(drafts, items, strict=True):
            if not isinstance(item, dict):
                enriched.append(draft)
                continue
            title = str(item.get("title") or "").strip() or draft.title
            description = str(item.get("description") or "").strip() or draft.description
            enriched.append(replace(draft, title=title, description=description))
        return enriched

"""Moved to twinmcp.tokens (libs/tokens). Kept only until search's domain.py and crosslib.py,
being rewritten now, import it from there; then this module and libs/tokens in the auth image
go."""

from twinmcp.tokens import count_tokens, truncate_to_tokens

__all__ = ["count_tokens", "truncate_to_tokens"]

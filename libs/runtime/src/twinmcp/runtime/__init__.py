"""Process plumbing shared by the TwinMCP services."""

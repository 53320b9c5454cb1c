"""The ingest service's client: sources, jobs, refreshes and followed libraries."""

from __future__ import annotations

import grpc
from twinmcp.gateway.clients.base import PeerClient
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc


class IngestClient(PeerClient):
    service = "ingest"
    grpc_service = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        super().__init__(channel, deadline)
        self.stub = ingest_pb2_grpc.IngestServiceStub(channel)

    async def submit_source(
        self, request: ingest_pb2.SubmitSourceRequest
    ) -> ingest_pb2.SubmitSourceResponse:
        return await self._call(self.stub.SubmitSource, request)

    async def get_job(self, job_id: str) -> ingest_pb2.GetJobResponse:
        return await self._call(self.stub.GetJob, ingest_pb2.GetJobRequest(job_id=job_id))

    async def list_jobs(
        self, library_id: str, states: list[ingest_pb2.JobState.ValueType], limit: int
    ) -> ingest_pb2.ListJobsResponse:
        request = ingest_pb2.ListJobsRequest(library_id=library_id, states=states, limit=limit)
        return await self._call(self.stub.ListJobs, request)

    async def cancel_job(self, job_id: str) -> ingest_pb2.CancelJobResponse:
        return await self._call(self.stub.CancelJob, ingest_pb2.CancelJobRequest(job_id=job_id))

    async def refresh_library(
        self, library_id: str, version: str
    ) -> ingest_pb2.RefreshLibraryResponse:
        request = ingest_pb2.RefreshLibraryRequest(library_id=library_id, version=version)
        return await self._call(self.stub.RefreshLibrary, request)

    async def follow_library(self, library_id: str) -> ingest_pb2.FollowLibraryResponse:
        request = ingest_pb2.FollowLibraryRequest(library_id=library_id)
        return await self._call(self.stub.FollowLibrary, request)

    async def unfollow_library(self, library_id: str) -> ingest_pb2.UnfollowLibraryResponse:
        request = ingest_pb2.UnfollowLibraryRequest(library_id=library_id)
        return await self._call(self.stub.UnfollowLibrary, request)

    async def list_followed_libraries(self) -> ingest_pb2.ListFollowedLibrariesResponse:
        request = ingest_pb2.ListFollowedLibrariesRequest()
        return await self._call(self.stub.ListFollowedLibraries, request)

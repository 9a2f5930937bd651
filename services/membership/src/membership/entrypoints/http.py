"""Membership's HTTP API."""

from fastapi import APIRouter

router = APIRouter(tags=["membership"])

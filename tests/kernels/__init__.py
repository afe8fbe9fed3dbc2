"""Test helpers for kernels: a kernel WebSocket client speaking both protocols."""

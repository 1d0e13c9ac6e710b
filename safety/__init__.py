"""SealFrame: the safety layer between a prompt and a delivered text-to-video clip.

Stages live in their own modules (media, moderation, watermark, provenance, output checks,
verification, audit); `safety.pipeline` only composes them.
"""

__version__ = "0.1.0"

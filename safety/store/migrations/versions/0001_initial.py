"""Initial schema: API keys, decisions, review items, jobs, assets, audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("prompt_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("normalized", sa.Text, nullable=False),
        sa.Column("action", sa.String(10), nullable=False, index=True),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("policy", sa.String(200), nullable=False),
        sa.Column("api_key_id", sa.String(32), nullable=True),
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("decision_id", sa.String(32), sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("reviewer_key_id", sa.String(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=True),
        sa.Column("api_key_id", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("video_key", sa.String(300), nullable=False),
        sa.Column("manifest_key", sa.String(300), nullable=False),
        sa.Column("manifest_id", sa.String(200), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("weights_sha256", sa.String(64), nullable=True),
        sa.Column("prompt_sha256", sa.String(64), nullable=True),
        sa.Column("policy", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("job_id", name="uq_assets_job"),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False, index=True),
        sa.Column("subject", sa.String(100), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_checkpoints", "audit_events", "assets", "jobs", "review_items", "decisions", "api_keys"):
        op.drop_table(table)

"""Typed tables for the archive family: archive_days and archive_participant_days

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('archive_days',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('previous_day', sa.Integer(), nullable=False),
    sa.Column('previous_digest', sa.String(length=128), nullable=False),
    sa.Column('contracts_digest', sa.String(length=128), nullable=False),
    sa.Column('contracts', sa.Integer(), nullable=False),
    sa.Column('settled', sa.Integer(), nullable=False),
    sa.Column('declined', sa.Integer(), nullable=False),
    sa.Column('contracted_wh', sa.BigInteger(), nullable=False),
    sa.Column('traded_wh', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('load_wh', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('par_ppm', sa.BigInteger(), nullable=False),
    sa.Column('penalties_set', sa.Boolean(), nullable=False),
    sa.Column('penalties', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('grid_prices_set', sa.Boolean(), nullable=False),
    sa.Column('grid_buy', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('grid_sell', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('recommendations', sa.Integer(), nullable=False),
    sa.Column('recommendations_digest', sa.String(length=128), nullable=False),
    sa.Column('recommended_wh', sa.BigInteger(), nullable=False),
    sa.Column('followed_permille', sa.Integer(), nullable=False),
    sa.Column('system_operator', sa.String(length=66), nullable=False),
    sa.Column('transaction_id', sa.String(length=128), nullable=False),
    sa.Column('digest', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_archive_days_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_archive_days_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_days'))
    )
    with op.batch_alter_table('archive_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_archive_days_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_days_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_days_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_archive_days_current', ['day'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('archive_participant_days',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.String(length=66), nullable=False),
    sa.Column('bought_p2p_wh', sa.BigInteger(), nullable=False),
    sa.Column('bought_grid_wh', sa.BigInteger(), nullable=False),
    sa.Column('sold_p2p_wh', sa.BigInteger(), nullable=False),
    sa.Column('sold_grid_wh', sa.BigInteger(), nullable=False),
    sa.Column('paid_base', sa.BigInteger(), nullable=False),
    sa.Column('paid_wire_fee', sa.BigInteger(), nullable=False),
    sa.Column('paid_surcharge', sa.BigInteger(), nullable=False),
    sa.Column('paid_guarantee', sa.BigInteger(), nullable=False),
    sa.Column('received_base', sa.BigInteger(), nullable=False),
    sa.Column('received_wire_fee', sa.BigInteger(), nullable=False),
    sa.Column('received_surcharge', sa.BigInteger(), nullable=False),
    sa.Column('contracts', sa.Integer(), nullable=False),
    sa.Column('declined', sa.Integer(), nullable=False),
    sa.Column('recommended', sa.Boolean(), nullable=False),
    sa.Column('recommended_wh', sa.BigInteger(), nullable=False),
    sa.Column('followed_permille', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_archive_participant_days_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_archive_participant_days_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_participant_days'))
    )
    with op.batch_alter_table('archive_participant_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_archive_participant_days_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_participant_days_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_participant_days_public_key'), ['public_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_participant_days_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_archive_participant_days_current', ['day', 'public_key'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('archive_participant_days', schema=None) as batch_op:
        batch_op.drop_index('uq_archive_participant_days_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_archive_participant_days_start_block'))
        batch_op.drop_index(batch_op.f('ix_archive_participant_days_public_key'))
        batch_op.drop_index(batch_op.f('ix_archive_participant_days_end_block'))
        batch_op.drop_index(batch_op.f('ix_archive_participant_days_address'))

    op.drop_table('archive_participant_days')
    with op.batch_alter_table('archive_days', schema=None) as batch_op:
        batch_op.drop_index('uq_archive_days_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_archive_days_start_block'))
        batch_op.drop_index(batch_op.f('ix_archive_days_end_block'))
        batch_op.drop_index(batch_op.f('ix_archive_days_address'))

    op.drop_table('archive_days')

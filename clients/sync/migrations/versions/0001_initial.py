"""The mirror's tables: blocks, state_entries and the typed tables

Revision ID: 0001
Revises: 
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blocks',
    sa.Column('block_num', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('block_id', sa.String(length=128), nullable=False),
    sa.Column('previous_block_id', sa.String(length=128), nullable=False),
    sa.Column('state_root_hash', sa.String(length=64), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('block_num', name=op.f('pk_blocks')),
    sa.UniqueConstraint('block_id', name=op.f('uq_blocks_block_id'))
    )
    op.create_table('books',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('next_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_books_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_books_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_books'))
    )
    with op.batch_alter_table('books', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_books_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_books_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_books_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_books_current', ['day', 'hour'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('contracts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('contract_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('seller', sa.String(length=66), nullable=False),
    sa.Column('buyer', sa.String(length=66), nullable=False),
    sa.Column('energy', sa.BigInteger(), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('penalty', sa.Integer(), nullable=False),
    sa.Column('base', sa.BigInteger(), nullable=False),
    sa.Column('surcharge', sa.BigInteger(), nullable=False),
    sa.Column('wire_fee', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('grid', sa.Boolean(), nullable=False),
    sa.Column('buy_order', sa.String(length=128), nullable=False),
    sa.Column('sell_order', sa.String(length=128), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('cluster', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('leader', sa.String(length=66), nullable=False),
    sa.Column('escrow', sa.BigInteger(), nullable=False),
    sa.Column('credit', sa.BigInteger(), nullable=False),
    sa.Column('quorum', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.BigInteger(), nullable=False),
    sa.Column('paid_base', sa.BigInteger(), nullable=False),
    sa.Column('paid_surcharge', sa.BigInteger(), nullable=False),
    sa.Column('paid_wire_fee', sa.BigInteger(), nullable=False),
    sa.Column('refunded', sa.BigInteger(), nullable=False),
    sa.Column('guarantee', sa.BigInteger(), nullable=False),
    sa.Column('declined_at', sa.String(length=16), nullable=False),
    sa.Column('cause', sa.String(length=24), nullable=False),
    sa.Column('cause_detail', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_contracts_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_contracts_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts'))
    )
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contracts_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracts_buyer'), ['buyer'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracts_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracts_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracts_seller'), ['seller'], unique=False)
        batch_op.create_index(batch_op.f('ix_contracts_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_contracts_current', ['contract_id'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('grid_prices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('buy', sa.BigInteger(), nullable=False),
    sa.Column('sell', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_grid_prices_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_grid_prices_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_prices'))
    )
    with op.batch_alter_table('grid_prices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_prices_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_prices_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_prices_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_grid_prices_current', ['day', 'hour'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('order_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=66), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('energy', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('penalty', sa.Integer(), nullable=False),
    sa.Column('locked', sa.BigInteger(), nullable=False),
    sa.Column('wire_fee', sa.BigInteger(), nullable=False),
    sa.Column('grid_fallback', sa.Boolean(), nullable=False),
    sa.Column('credit', sa.BigInteger(), nullable=False),
    sa.Column('owner_score', sa.BigInteger(), nullable=False),
    sa.Column('min_counterparty_score', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_orders_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_orders_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_orders_current', ['order_id'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('participants',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('public_key', sa.String(length=66), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_participants_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_participants_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_participants_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_participants_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_participants_current', ['public_key'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('penalties',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('multiplier', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_penalties_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_penalties_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalties'))
    )
    with op.batch_alter_table('penalties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_penalties_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_penalties_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_penalties_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_penalties_current', ['day', 'hour'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('recommendations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('public_key', sa.String(length=66), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('energy', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_recommendations_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_recommendations_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendations'))
    )
    with op.batch_alter_table('recommendations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recommendations_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendations_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendations_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendations_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_recommendations_current', ['public_key', 'day', 'hour'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('reputation_scores',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('public_key', sa.String(length=66), nullable=False),
    sa.Column('score', sa.BigInteger(), nullable=False),
    sa.Column('first_day', sa.Integer(), nullable=False),
    sa.Column('settled', sa.Integer(), nullable=False),
    sa.Column('faults', sa.Integer(), nullable=False),
    sa.Column('validated', sa.Integer(), nullable=False),
    sa.Column('missed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_reputation_scores_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_reputation_scores_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reputation_scores'))
    )
    with op.batch_alter_table('reputation_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reputation_scores_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_reputation_scores_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_reputation_scores_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_reputation_scores_current', ['public_key'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('reputation_settlements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('contract_id', sa.String(length=128), nullable=False),
    sa.Column('votes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('qot', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_reputation_settlements_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_reputation_settlements_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reputation_settlements'))
    )
    with op.batch_alter_table('reputation_settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reputation_settlements_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_reputation_settlements_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_reputation_settlements_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_reputation_settlements_current', ['contract_id'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('state_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_state_entries_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_state_entries_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_state_entries'))
    )
    with op.batch_alter_table('state_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_state_entries_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_state_entries_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_state_entries_family'), ['family'], unique=False)
        batch_op.create_index(batch_op.f('ix_state_entries_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_state_entries_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_state_entries_current', ['address'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))

    op.create_table('wallets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('address', sa.String(length=70), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('end_block', sa.BigInteger(), nullable=True),
    sa.Column('public_key', sa.String(length=66), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('locked', sa.BigInteger(), nullable=False),
    sa.Column('credit_used', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['end_block'], ['blocks.block_num'], name=op.f('fk_wallets_end_block_blocks')),
    sa.ForeignKeyConstraint(['start_block'], ['blocks.block_num'], name=op.f('fk_wallets_start_block_blocks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallets'))
    )
    with op.batch_alter_table('wallets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wallets_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_wallets_end_block'), ['end_block'], unique=False)
        batch_op.create_index(batch_op.f('ix_wallets_start_block'), ['start_block'], unique=False)
        batch_op.create_index('uq_wallets_current', ['public_key'], unique=True, sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('wallets', schema=None) as batch_op:
        batch_op.drop_index('uq_wallets_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_wallets_start_block'))
        batch_op.drop_index(batch_op.f('ix_wallets_end_block'))
        batch_op.drop_index(batch_op.f('ix_wallets_address'))

    op.drop_table('wallets')
    with op.batch_alter_table('state_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_state_entries_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_state_entries_start_block'))
        batch_op.drop_index(batch_op.f('ix_state_entries_kind'))
        batch_op.drop_index(batch_op.f('ix_state_entries_family'))
        batch_op.drop_index(batch_op.f('ix_state_entries_end_block'))
        batch_op.drop_index(batch_op.f('ix_state_entries_address'))

    op.drop_table('state_entries')
    with op.batch_alter_table('reputation_settlements', schema=None) as batch_op:
        batch_op.drop_index('uq_reputation_settlements_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_reputation_settlements_start_block'))
        batch_op.drop_index(batch_op.f('ix_reputation_settlements_end_block'))
        batch_op.drop_index(batch_op.f('ix_reputation_settlements_address'))

    op.drop_table('reputation_settlements')
    with op.batch_alter_table('reputation_scores', schema=None) as batch_op:
        batch_op.drop_index('uq_reputation_scores_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_reputation_scores_start_block'))
        batch_op.drop_index(batch_op.f('ix_reputation_scores_end_block'))
        batch_op.drop_index(batch_op.f('ix_reputation_scores_address'))

    op.drop_table('reputation_scores')
    with op.batch_alter_table('recommendations', schema=None) as batch_op:
        batch_op.drop_index('uq_recommendations_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_recommendations_start_block'))
        batch_op.drop_index(batch_op.f('ix_recommendations_end_block'))
        batch_op.drop_index(batch_op.f('ix_recommendations_day'))
        batch_op.drop_index(batch_op.f('ix_recommendations_address'))

    op.drop_table('recommendations')
    with op.batch_alter_table('penalties', schema=None) as batch_op:
        batch_op.drop_index('uq_penalties_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_penalties_start_block'))
        batch_op.drop_index(batch_op.f('ix_penalties_end_block'))
        batch_op.drop_index(batch_op.f('ix_penalties_address'))

    op.drop_table('penalties')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index('uq_participants_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_participants_start_block'))
        batch_op.drop_index(batch_op.f('ix_participants_end_block'))
        batch_op.drop_index(batch_op.f('ix_participants_address'))

    op.drop_table('participants')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('uq_orders_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_orders_start_block'))
        batch_op.drop_index(batch_op.f('ix_orders_owner'))
        batch_op.drop_index(batch_op.f('ix_orders_end_block'))
        batch_op.drop_index(batch_op.f('ix_orders_day'))
        batch_op.drop_index(batch_op.f('ix_orders_address'))

    op.drop_table('orders')
    with op.batch_alter_table('grid_prices', schema=None) as batch_op:
        batch_op.drop_index('uq_grid_prices_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_grid_prices_start_block'))
        batch_op.drop_index(batch_op.f('ix_grid_prices_end_block'))
        batch_op.drop_index(batch_op.f('ix_grid_prices_address'))

    op.drop_table('grid_prices')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_index('uq_contracts_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_contracts_start_block'))
        batch_op.drop_index(batch_op.f('ix_contracts_seller'))
        batch_op.drop_index(batch_op.f('ix_contracts_end_block'))
        batch_op.drop_index(batch_op.f('ix_contracts_day'))
        batch_op.drop_index(batch_op.f('ix_contracts_buyer'))
        batch_op.drop_index(batch_op.f('ix_contracts_address'))

    op.drop_table('contracts')
    with op.batch_alter_table('books', schema=None) as batch_op:
        batch_op.drop_index('uq_books_current', sqlite_where=sa.text('end_block IS NULL'), postgresql_where=sa.text('end_block IS NULL'))
        batch_op.drop_index(batch_op.f('ix_books_start_block'))
        batch_op.drop_index(batch_op.f('ix_books_end_block'))
        batch_op.drop_index(batch_op.f('ix_books_address'))

    op.drop_table('books')
    op.drop_table('blocks')

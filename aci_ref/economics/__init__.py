"""ref: economics — the ACI token's ledger, staking, fees (Table 5) and slashing (Table 2).

Pure functions over an immutable `Ledger`: each returns a new ledger or raises `RejectedError`
and leaves its input as it was. spec/economics.md states every rule in prose.
"""

from aci_ref.economics.fees import (
    FeeSplit,
    Payouts,
    check_fee_shares,
    fee_split,
    pro_rata,
    settle_escrow,
    settlement_payouts,
)
from aci_ref.economics.invariants import (
    check_conservation,
    check_fee_split,
    check_ledger,
    check_non_negative,
    check_params_fee_shares,
    check_stake_minimums,
    check_structure,
)
from aci_ref.economics.ledger import (
    Escrow,
    Ledger,
    StakePosition,
    Unbonding,
    escrow_lock,
    escrow_refund,
    genesis,
    held_total,
    open_account,
    stake_key,
    transfer,
)
from aci_ref.economics.records import Evidence, Role, SlashRecord, Violation
from aci_ref.economics.slashing import SLASHING_TABLE, SlashingTable, SlashRule, slash
from aci_ref.economics.staking import (
    bond,
    is_active,
    lock_stake,
    minimum_stake,
    required_stake,
    set_capacity,
    unbond,
    unlock_stake,
    withdraw,
)

__all__ = [
    "SLASHING_TABLE",
    "Escrow",
    "Evidence",
    "FeeSplit",
    "Ledger",
    "Payouts",
    "Role",
    "SlashRecord",
    "SlashRule",
    "SlashingTable",
    "StakePosition",
    "Unbonding",
    "Violation",
    "bond",
    "check_conservation",
    "check_fee_shares",
    "check_fee_split",
    "check_ledger",
    "check_non_negative",
    "check_params_fee_shares",
    "check_stake_minimums",
    "check_structure",
    "escrow_lock",
    "escrow_refund",
    "fee_split",
    "genesis",
    "held_total",
    "is_active",
    "lock_stake",
    "minimum_stake",
    "open_account",
    "pro_rata",
    "required_stake",
    "set_capacity",
    "settle_escrow",
    "settlement_payouts",
    "slash",
    "stake_key",
    "transfer",
    "unbond",
    "unlock_stake",
    "withdraw",
]

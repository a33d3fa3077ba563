// SPDX-License-Identifier: MIT
// The EVM twin of aci_ref/aivm/contracts/ledger_demo.wat: the same counter and the same Q16.16
// matrix product, written in Solidity because the EVM has no tensor opcode.
pragma solidity 0.8.28;

contract LedgerDemo {
    mapping(bytes32 => uint64) private slots;

    /// increment(by): read the counter, add, write it back, return it (ledger_demo.increment).
    function increment(uint64 by) external returns (uint64 value) {
        value = slots["count"] + by;
        slots["count"] = value;
    }

    /// square(n): C = A · A for an n×n Q16.16 matrix A (zeros here, as in the WASM twin's
    /// untouched memory), exact products rounded once to nearest, ties toward +infinity.
    function square(uint256 n) external pure returns (int32 corner) {
        int32[] memory a = new int32[](n * n);
        int32[] memory c = new int32[](n * n);
        for (uint256 i = 0; i < n; i++) {
            for (uint256 j = 0; j < n; j++) {
                int256 sum = 0;
                for (uint256 k = 0; k < n; k++) {
                    sum += int256(a[i * n + k]) * int256(a[k * n + j]);
                }
                int256 rounded = (sum + (1 << 15)) >> 16;
                require(rounded >= type(int32).min && rounded <= type(int32).max, "overflow");
                c[i * n + j] = int32(rounded);
            }
        }
        corner = c[n * n - 1];
    }

    /// product(n): as square, on A filled with a_i = ((7i + 3) mod 17 - 8) * 2^13, the pattern
    /// ledger_demo.product writes, so both machines multiply the same nonzero matrix.
    function product(uint256 n) external pure returns (int32 corner) {
        require(n > 0 && n * n <= 7936, "size");
        int32[] memory a = new int32[](n * n);
        for (uint256 i = 0; i < n * n; i++) {
            a[i] = int32((int256((i * 7 + 3) % 17) - 8) << 13);
        }
        int32[] memory c = new int32[](n * n);
        for (uint256 i = 0; i < n; i++) {
            for (uint256 j = 0; j < n; j++) {
                int256 total = 0;
                for (uint256 k = 0; k < n; k++) {
                    total += int256(a[i * n + k]) * int256(a[k * n + j]);
                }
                int256 rounded = (total + (1 << 15)) >> 16;
                require(rounded >= type(int32).min && rounded <= type(int32).max, "overflow");
                c[i * n + j] = int32(rounded);
            }
        }
        corner = c[n * n - 1];
    }
}

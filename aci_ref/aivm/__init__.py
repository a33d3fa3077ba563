"""The AI-native virtual machine (§5): a wasmtime host, the Table 4 opcodes, gas, contracts."""

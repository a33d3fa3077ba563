"""The AI-native virtual machine (§5): gas today; opcodes and the WASM host in roadmap step 6."""

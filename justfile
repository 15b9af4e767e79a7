# Time the gateway adds to a provider's first delta, and 1,000 concurrent followed streams.
bench-stream:
    cargo bench -p colloquy-tests --bench stream

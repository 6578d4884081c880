"""Staff console: see what Tonight decides for whom, and why, rendered as a client would."""

"""cvb plugin: MLIC++ (multi-reference entropy model) from the user's MLIC checkout."""

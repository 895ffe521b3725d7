"""Support code shared by the govtrust test suite."""

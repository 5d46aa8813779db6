"""The bottom floor: the sensor-kind table and the vocabulary."""

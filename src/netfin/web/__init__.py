"""The customer portal: server-rendered pages over the bank's services, in Chinese and English,
with an elder mode (large text, large targets, high contrast, read aloud)."""

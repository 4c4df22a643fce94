"""The online clearance service (`cbec serve`): enterprises post CEB messages over HTTP, a
micro-batcher clears them with the same pipeline as `cbec clear`, receipts are read back by cursor.
"""

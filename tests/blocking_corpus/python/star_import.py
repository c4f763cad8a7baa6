from time import *


async def tick():
    sleep(1)  # expect: py-time-sleep
    monotonic()

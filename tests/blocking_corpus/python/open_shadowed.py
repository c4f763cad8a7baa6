"""A module with its own `open`: calling it is not the builtin."""


async def open(resource):
    return resource


async def main():
    await open("db")
    handle = await open("cache")
    return handle


async def reads_input():
    input = get_queue()
    input("job")


def get_queue():
    return print

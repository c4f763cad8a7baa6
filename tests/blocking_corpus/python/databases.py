"""Synchronous database drivers in coroutines, and async ones."""
import sqlite3

import aiosqlite
import psycopg2
import pymysql


async def report(path):
    conn = sqlite3.connect(path)  # expect: py-sync-db
    cur = conn.cursor()
    cur.execute("select count(*) from jobs")  # expect: py-sync-db
    cur.fetchone()  # expect: py-sync-db
    conn.execute("delete from jobs")  # expect: py-sync-db
    conn.commit()  # expect: py-sync-db


async def postgres(dsn):
    with psycopg2.connect(dsn) as pg:  # expect: py-sync-db
        with pg.cursor() as cursor:
            cursor.execute("select 1")  # expect: py-sync-db
            cursor.fetchall()  # expect: py-sync-db


async def mysql():
    db = pymysql.connect(host="localhost")  # expect: py-sync-db
    db.commit()  # expect: py-sync-db


async def the_async_driver(path):
    async with aiosqlite.connect(path) as db:
        await db.execute("insert into jobs values (1)")
        await db.commit()
        async with db.execute("select * from jobs") as cursor:
            rows = await cursor.fetchall()
    return rows


async def someone_elses_execute(session):
    await session.execute("select 1")
    session.commit()

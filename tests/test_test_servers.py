"""The tests' own Redis and PostgreSQL servers start, answer and keep each test's data apart."""

from __future__ import annotations

from tests.support.servers import PostgresServer, RedisServer


async def test_redis_answers(redis: RedisServer) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis.url)
    try:
        assert await client.ping() is True
    finally:
        await client.aclose()


async def test_each_test_gets_its_own_empty_postgres_database(postgres: PostgresServer, postgres_url: str) -> None:
    import asyncpg

    other = postgres.create_database("test_servers_other")
    connection = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        await connection.execute("CREATE TABLE t (x int)")
        assert await connection.fetchval("SELECT current_database()") != other.rsplit("/", 1)[1]
    finally:
        await connection.close()
    connection = await asyncpg.connect(other.replace("+asyncpg", ""))
    try:
        assert await connection.fetchval("SELECT count(*) FROM pg_tables WHERE tablename = 't'") == 0
    finally:
        await connection.close()

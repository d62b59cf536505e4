// Where the tests find Postgres and Redis: DATABASE_URL/REDIS_URL when given; else containers
// started with testcontainers when Docker answers; else the local services on their default ports.
// Also builds the service once for the run: the role processes run the compiled JavaScript.
import type { TestProject } from 'vitest/node';
import { GenericContainer, getContainerRuntimeClient, Wait, type StartedTestContainer } from 'testcontainers';
import { buildForTests } from './build.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    buildDir: string; // the compiled service the role processes run (see build.ts)
  }
}

const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

async function dockerAnswers(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject) {
  const build = await buildForTests();
  project.provide('buildDir', build.dir);
  const started: StartedTestContainer[] = [];
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;

  if ((!databaseUrl || !redisUrl) && process.env.TEST_USE_LOCAL !== '1' && (await dockerAnswers())) {
    if (!databaseUrl) {
      const pg = await new GenericContainer('postgres:16-alpine')
        .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      started.push(pg);
      databaseUrl = `postgres://postgres:postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/postgres`;
    }
    if (!redisUrl) {
      const redis = await new GenericContainer('redis:7-alpine')
        .withCommand(['redis-server', '--maxmemory-policy', 'noeviction'])
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
        .start();
      started.push(redis);
      redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
    }
  }

  project.provide('databaseUrl', databaseUrl ?? LOCAL_DATABASE_URL);
  project.provide('redisUrl', redisUrl ?? LOCAL_REDIS_URL);

  return async () => {
    await Promise.all(started.map((c) => c.stop()));
    await build.remove();
  };
}

/**
 * arktype's core compiles every schema node to JavaScript with `new Function`
 * (its "JIT"), which pays off only over many validations. This tool validates
 * one request per process, so it runs arktype's interpreted checks instead.
 * Must be imported before `@ark/schema` itself.
 */
import { configureSchema } from "@ark/schema/config";

configureSchema({ jitless: true });

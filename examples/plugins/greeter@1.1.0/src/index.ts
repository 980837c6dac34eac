import { definePlugin, Type } from '@plugbay/sdk';

const greetings = { en: 'Hello', fr: 'Bonjour', de: 'Hallo', es: 'Hola' } as const;
const Name = Type.String({ minLength: 1, maxLength: 100 });

// 1.1.0 keeps greet() compatible (same required input, same output) and adds a language and a second function.
export default definePlugin({
  name: 'greeter',
  version: '1.1.0',
  description: 'Greets people by name, in several languages.',
  functions: {
    greet: {
      description: 'Says hello, in English unless another language is asked for.',
      input: Type.Object(
        {
          name: Name,
          language: Type.Optional(
            Type.Union([Type.Literal('en'), Type.Literal('fr'), Type.Literal('de'), Type.Literal('es')]),
          ),
        },
        { additionalProperties: false },
      ),
      output: Type.Object({ message: Type.String() }),
      idempotent: true,
      examples: [
        { input: { name: 'Ada', language: 'fr' }, output: { message: 'Bonjour, Ada! (greeter 1.1.0)' } },
      ],
      handler: ({ name, language }) => ({
        message: `${greetings[language ?? 'en']}, ${name}! (greeter 1.1.0)`,
      }),
    },
    farewell: {
      description: 'Says goodbye.',
      input: Type.Object({ name: Name }, { additionalProperties: false }),
      output: Type.Object({ message: Type.String() }),
      idempotent: true,
      examples: [{ input: { name: 'Ada' }, output: { message: 'Goodbye, Ada!' } }],
      handler: ({ name }) => ({ message: `Goodbye, ${name}!` }),
    },
  },
});

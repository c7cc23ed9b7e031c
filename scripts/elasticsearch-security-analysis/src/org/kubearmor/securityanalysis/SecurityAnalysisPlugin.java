package org.kubearmor.securityanalysis;

import java.io.IOException;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * For tests only. Elasticsearch keeps API keys and service-account tokens in its `.security`
 * index, whose `email` analyzer uses three components of the `analysis-common` module: the
 * `uax_url_email` tokenizer and the `pattern_capture` and `unique` token filters. The integ-test
 * distribution leaves that module out and it is not published on Maven Central, so this plugin
 * supplies those three (the first two are the same Lucene classes the module wraps; `unique` drops
 * a term already seen in the stream), and nothing else.
 */
public final class SecurityAnalysisPlugin extends Plugin implements AnalysisPlugin {
  @Override
  public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
    return Map.of(
        "uax_url_email",
        (indexSettings, environment, name, settings) ->
            TokenizerFactory.newFactory(name, UAX29URLEmailTokenizer::new));
  }

  @Override
  public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
    return Map.of(
        "pattern_capture",
        (indexSettings, environment, name, settings) -> {
          Pattern[] patterns =
              settings.getAsList("patterns").stream().map(Pattern::compile).toArray(Pattern[]::new);
          boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
          return new NamedFilter(
              name, input -> new PatternCaptureGroupTokenFilter(input, preserveOriginal, patterns));
        },
        "unique",
        (indexSettings, environment, name, settings) -> new NamedFilter(name, UniqueTermFilter::new));
  }

  /**
   * The factory interface itself, not AbstractTokenFilterFactory: that one's constructor changed
   * between 8.x (name, settings) and 9.x (name), and the plugin is built against both.
   */
  record NamedFilter(String name, UnaryOperator<TokenStream> filter) implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream input) {
      return filter.apply(input);
    }
  }

  /** Passes each term the first time it occurs in the stream only. */
  static final class UniqueTermFilter extends TokenFilter {
    private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
    private final CharArraySet seen = new CharArraySet(8, false);

    UniqueTermFilter(TokenStream input) {
      super(input);
    }

    @Override
    public boolean incrementToken() throws IOException {
      while (input.incrementToken()) {
        if (!seen.contains(term.buffer(), 0, term.length())) {
          seen.add(term.toString());
          return true;
        }
      }
      return false;
    }

    @Override
    public void reset() throws IOException {
      super.reset();
      seen.clear();
    }
  }
}
